/*
 * file.c - atomic file replacement.
 */
#include "base/file.h"
#include "base/buf.h"
#include "base/mem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

static mode_t current_umask(void)
{
	mode_t m = umask(022);
	umask(m);
	return m;
}

int file_out_open(struct file_out *o, const char *path, struct err *err)
{
	struct buf t = BUF_INIT;
	int fd;
	memset(o, 0, sizeof(*o));
	struct stat st;
	if (strcmp(path, "-") == 0) {
		o->f = stdout;
		return 0;
	}
	/*
	 * A device, FIFO or socket (/dev/null, /dev/stdout, a pipe) is written
	 * in place: renaming a temporary file onto it would replace the
	 * device node with a regular file.
	 */
	if (stat(path, &st) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISDIR(st.st_mode))
			return err_set(err, ERR_IO, "cannot write '%s': is a directory", path);
		o->f = fopen(path, "wb");
		if (!o->f)
			return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
		return 0;
	}
	o->path = mem_strdup(path);
	if (!o->path || buf_addf(&t, "%s.tmp.XXXXXX", path) < 0) {
		buf_release(&t);
		file_out_abort(o);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	fd = mkstemp(t.ptr);
	if (fd < 0) {
		err_set(err, ERR_IO, "cannot create '%s': %s", path, strerror(errno));
		buf_release(&t);
		file_out_abort(o);
		return -1;
	}
	o->tmp = buf_take(&t, NULL);
	/*
	 * mkstemp creates the file 0600; a model bundle or a data file is read
	 * by other users (a server running as its own user), so give it the
	 * mode open(O_CREAT, 0666) would have under the current umask.
	 */
	if (fchmod(fd, 0666 & ~current_umask()) != 0) {
		err_set(err, ERR_IO, "cannot chmod '%s': %s", o->tmp, strerror(errno));
		close(fd);
		file_out_abort(o);
		return -1;
	}
	o->f = fdopen(fd, "wb");
	if (!o->f) {
		close(fd);
		file_out_abort(o);
		return err_set(err, ERR_IO, "cannot open '%s': %s", path, strerror(errno));
	}
	return 0;
}

int file_out_commit(struct file_out *o, struct err *err)
{
	int bad;
	if (!o->tmp) { /* stdout, or a device written in place */
		int failed = fflush(o->f) != 0 || ferror(o->f);
		if (o->f != stdout && fclose(o->f) != 0)
			failed = 1;
		o->f = NULL;
		if (failed)
			return err_set(err, ERR_IO, "cannot write output: %s", strerror(errno));
		return 0;
	}
	bad = fflush(o->f) != 0 || ferror(o->f) || fsync(fileno(o->f)) != 0;
	if (fclose(o->f) != 0)
		bad = 1;
	o->f = NULL;
	if (bad || rename(o->tmp, o->path) != 0) {
		err_set(err, ERR_IO, "cannot write '%s': %s", o->path, strerror(errno));
		file_out_abort(o);
		return -1;
	}
	mem_free(o->tmp);
	o->tmp = NULL;
	mem_free(o->path);
	o->path = NULL;
	return 0;
}

void file_out_abort(struct file_out *o)
{
	if (o->f && o->f != stdout)
		fclose(o->f);
	o->f = NULL;
	if (o->tmp)
		(void)unlink(o->tmp); /* best effort: nothing else to do */
	mem_free(o->tmp);
	mem_free(o->path);
	o->tmp = o->path = NULL;
}

int file_write_atomic(const char *path, const void *data, size_t len, struct err *err)
{
	struct file_out o;
	if (file_out_open(&o, path, err) < 0)
		return -1;
	if (len && fwrite(data, 1, len, o.f) != len) {
		err_set(err, ERR_IO, "cannot write '%s': %s", path, strerror(errno));
		file_out_abort(&o);
		return -1;
	}
	return file_out_commit(&o, err);
}

int file_tmp_unnamed(const char *dir)
{
	struct buf name = BUF_INIT;
	int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
		return fd;
	if (buf_addf(&name, "%s/tmp.XXXXXX", dir) < 0) {
		errno = ENOMEM;
		return -1;
	}
	fd = mkostemp(name.ptr, O_CLOEXEC);
	if (fd >= 0)
		unlink(name.ptr);
	buf_release(&name);
	return fd;
}
