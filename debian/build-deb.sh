#!/bin/sh
# make deb: builds collectd-wedata-rerun_<version>_<arch>.deb from the
# built plugin, state tool and man pages, without debhelper: the binary
# package is laid out by hand (plugin in /usr/lib/collectd, the state tool
# in /usr/bin, the snippet as a conffile, the man pages and docs under
# /usr/share), its Depends computed by dpkg-shlibdeps from the plugin's and
# the tool's libraries, and lintian must report no error.
#   debian/build-deb.sh BUILD_DIR VERSION
set -eu
build=$1
version=$2
pkg=collectd-wedata-rerun
arch=$(dpkg --print-architecture)
root=$build/deb/$pkg
rm -rf "$build/deb"
umask 022
install -d "$root/DEBIAN" "$root/usr/lib/collectd" "$root/usr/bin" \
    "$root/etc/collectd/collectd.conf.d" "$root/usr/share/man/man5" \
    "$root/usr/share/man/man1" \
    "$root/usr/share/doc/$pkg/examples"
install -m 0644 "$build/wedata_rerun.so" "$root/usr/lib/collectd/wedata_rerun.so"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/lib/collectd/wedata_rerun.so"
install -m 0755 "$build/wedata-rerun-state" "$root/usr/bin/wedata-rerun-state"
strip --strip-unneeded --remove-section=.comment --remove-section=.note \
    "$root/usr/bin/wedata-rerun-state"
# 0640, as make install: the operator may put a SecretKey in it.
install -m 0640 conf.d/wedata_rerun.conf "$root/etc/collectd/collectd.conf.d/wedata_rerun.conf"
gzip -9n < "$build/collectd-wedata_rerun.5" > "$root/usr/share/man/man5/collectd-wedata_rerun.5.gz"
gzip -9n < "$build/wedata-rerun-state.1" > "$root/usr/share/man/man1/wedata-rerun-state.1.gz"
install -m 0644 debian/copyright "$root/usr/share/doc/$pkg/copyright"
gzip -9n < debian/changelog > "$root/usr/share/doc/$pkg/changelog.Debian.gz"
gzip -9n < README.md > "$root/usr/share/doc/$pkg/README.md.gz"
for f in conf.d/examples/*; do
  mode=0644
  [ -x "$f" ] && mode=0755
  install -m "$mode" "$f" "$root/usr/share/doc/$pkg/examples/"
done
# The README's picture, where its relative link points.
install -D -m 0644 docs/prometheus-graph.png "$root/usr/share/doc/$pkg/docs/prometheus-graph.png"
if [ -d contrib ]; then
  cp -r contrib "$root/usr/share/doc/$pkg/contrib"
fi
echo /etc/collectd/collectd.conf.d/wedata_rerun.conf > "$root/DEBIAN/conffiles"

# Depends: what the plugin's and the tool's libraries need (debian/control's
# ${shlibs}).
shlibs=$(dpkg-shlibdeps -O "$root/usr/lib/collectd/wedata_rerun.so" \
             "$root/usr/bin/wedata-rerun-state" 2>/dev/null |
         sed -n 's/^shlibs:Depends=//p')
size=$(du -k -s --exclude=DEBIAN "$root" | cut -f1)
{
  printf 'Package: %s\nVersion: %s-1\nArchitecture: %s\n' "$pkg" "$version" "$arch"
  sed -n 's/^Maintainer: /Maintainer: /p; s/^Section: /Section: /p; s/^Priority: /Priority: /p' \
      debian/control | head -n 3
  printf 'Installed-Size: %s\nDepends: %s, collectd-core\n' "$size" "$shlibs"
  sed -n '/^Description:/,$p' debian/control
} > "$root/DEBIAN/control"
(cd "$root" && find . -type f ! -path './DEBIAN/*' -printf '%P\n' | sort |
   xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"
deb=$build/${pkg}_${version}-1_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "built $deb"
if command -v lintian >/dev/null 2>&1; then
  lintian --fail-on error --tag-display-limit 0 "$deb"
  echo "lintian: no error"
else
  echo "lintian is not installed (make deps installs it): not checked" >&2
  exit 1
fi
