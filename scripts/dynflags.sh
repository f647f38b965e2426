#!/bin/sh
# dynflags.sh - compiler flags naming the libraries src/dyn/ opens with
# dlopen: for each pkg-config package, -DKILN_SONAME_X="<SONAME of its .so>"
# and -DKILN_PACKAGE_X="<Debian package shipping that soname>", read from the
# installed files, so no soname is a guess. X is the -l name in capitals
# (libcurl -> CURL). Prints nothing for a package it cannot read; the shim
# then stops the build with an #error naming the macro.
for pkg in "$@"; do
	name=$(pkg-config --libs-only-l "$pkg" 2>/dev/null | sed -n 's/^-l\([^ ]*\).*/\1/p')
	dir=$(pkg-config --variable=libdir "$pkg" 2>/dev/null)
	[ -n "$name" ] && [ -e "$dir/lib$name.so" ] || continue
	soname=$(readelf -d "$dir/lib$name.so" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
	[ -n "$soname" ] || continue
	deb=$(dpkg-query -S "$dir/$soname" 2>/dev/null | sed -n '1s/[:,].*//p')
	macro=$(echo "$name" | tr 'a-z' 'A-Z' | tr -c 'A-Z0-9\n' '_')
	printf -- "-DKILN_SONAME_%s='\"%s\"' -DKILN_PACKAGE_%s='\"%s\"' " \
		"$macro" "$soname" "$macro" "${deb:-providing $soname}"
done
echo
