#!/usr/bin/env bash
# The libgpiod path against a real Linux kernel: boots Debian's own kernel under qemu (software
# emulation, TCG, chosen explicitly), with gpio-sim built as a module from Debian's kernel
# source, and runs the real lane-agent inside it (Tests/KernelGPIO/vm-test.sh). `make test`
# runs it; docs/BOARDS.md, "Tested against a kernel", says what it proves and what it measured.
#
#   scripts/gpio-vm.sh            prepare (cached) and run; status 1 on any failed check
#   scripts/gpio-vm.sh prepare    only download and build what the VM needs
#   scripts/gpio-vm.sh abi        print the kernel ABI it uses (that of the installed headers)
#
# Cached between runs in $LANE_VM_CACHE (default ~/.cache/lane-controller/gpio-vm), per kernel
# ABI: the kernel image and configfs.ko from linux-image-ABI (downloaded, not installed), the
# gpio-sim and irq_sim modules built against linux-headers-ABI (installed by scripts/setup.sh)
# from the files of linux-source-6.1. Skipped with a message only where qemu cannot run at all.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=${BIN:-$ROOT/.build/debug}
CACHE=${LANE_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lane-controller/gpio-vm}

say() { echo "gpio-vm: $*"; }
die() { echo "gpio-vm: $*" >&2; exit 1; }

# The kernel ABI: the one whose headers are installed (scripts/setup.sh installs
# linux-headers-amd64, whose dependency names the current ABI, and moves it on when the archive
# drops that ABI's image). `scripts/gpio-vm.sh abi` prints it for setup.sh.
abi=$(dpkg-query -W -f='${Depends}' linux-headers-amd64 2>/dev/null | sed -n 's/.*linux-headers-\([0-9][^ ,]*-amd64\).*/\1/p')
if [ "${1:-}" = abi ]; then echo "$abi"; exit 0; fi
[ -n "$abi" ] && [ -d "/usr/src/linux-headers-$abi" ] || die "no kernel headers for the VM's modules: scripts/setup.sh installs linux-headers-amd64"
C=$CACHE/$abi

prepare() {
    [ -f "$C/ready" ] && return 0
    say "preparing the VM for kernel $abi in $C (once per kernel ABI)"
    local w; w=$(mktemp -d)
    mkdir -p "$C"
    (cd "$w" && apt-get download -q "linux-image-$abi" linux-source-6.1 >/dev/null 2>"$w/apt.err") \
        || die "cannot download linux-image-$abi and linux-source-6.1 ($(tail -n1 "$w/apt.err")); if the archive has a newer kernel, scripts/setup.sh installs its headers"
    dpkg-deb -x "$w"/linux-image-"$abi"_*.deb "$w/image"
    local moddir="$w/image/lib/modules/$abi"
    cp "$w/image/boot/vmlinuz-$abi" "$C/vmlinuz"
    mkdir -p "$C/modules" "$w/src"
    cp "$moddir/kernel/fs/configfs/configfs.ko" "$C/modules/"
    say "extracting gpio-sim and irq_sim from linux-source-6.1"
    dpkg-deb --fsys-tarfile "$w"/linux-source-6.1_*.deb | tar -xO ./usr/src/linux-source-6.1.tar.xz \
        | tar -xJ -C "$w/src" --strip-components=1 linux-source-6.1/drivers/gpio/gpio-sim.c \
            linux-source-6.1/drivers/gpio/gpiolib.h linux-source-6.1/kernel/irq/irq_sim.c
    mkdir "$w/mod"
    cp "$w/src/drivers/gpio/gpio-sim.c" "$w/src/drivers/gpio/gpiolib.h" "$w/src/kernel/irq/irq_sim.c" "$w/mod/"
    # irq_sim is built into kernels that need it, never as a module: in 6.1 it reaches the
    # descriptor through irq_to_desc, which modules cannot call, and it has no licence tag.
    sed -i 's/handle_simple_irq(irq_to_desc(irqnum));/handle_simple_irq(irq_data_to_desc(irq_get_irq_data(irqnum)));/' "$w/mod/irq_sim.c"
    grep -q 'irq_data_to_desc(irq_get_irq_data(irqnum))' "$w/mod/irq_sim.c" || die "irq_sim.c of this kernel source no longer has the line the patch replaces"
    sed -i '0,/#include <linux\/slab.h>/s//#include <linux\/slab.h>\n#include <linux\/irqdesc.h>\n#include <linux\/module.h>/' "$w/mod/irq_sim.c"
    echo 'MODULE_LICENSE("GPL");' >> "$w/mod/irq_sim.c"
    echo 'obj-m := irq_sim.o gpio-sim.o' > "$w/mod/Kbuild"
    make -s -C "/usr/src/linux-headers-$abi" M="$w/mod" modules > "$w/build.log" 2>&1 \
        || { cat "$w/build.log" >&2; die "the gpio-sim module does not build against linux-headers-$abi"; }
    cp "$w/mod/irq_sim.ko" "$w/mod/gpio-sim.ko" "$C/modules/"
    touch "$C/ready"
    rm -rf "$w"
    say "prepared: $(ls "$C/modules" | tr '\n' ' ')"
}

prepare
[ "${1:-}" = prepare ] && exit 0

if ! command -v qemu-system-x86_64 >/dev/null; then
    die "qemu-system-x86_64 is missing: scripts/setup.sh installs qemu-system-x86"
fi
if ! qemu-system-x86_64 -accel tcg -machine q35 -display none -S -no-user-config -nodefaults \
        -monitor none -serial none -daemonize -pidfile /tmp/gpio-vm-probe.$$ >/dev/null 2>&1; then
    say "SKIPPED: qemu cannot start a machine here (qemu-system-x86_64 -accel tcg failed), so the kernel GPIO test does not run"
    exit 0
fi
kill "$(cat /tmp/gpio-vm-probe.$$)" 2>/dev/null || true
rm -f /tmp/gpio-vm-probe.$$


for b in lane-agent lane-sim; do [ -x "$BIN/$b" ] || die "$BIN/$b is not built (swift build)"; done

# The initramfs: busybox, the modules, an init; then the binaries, their shared libraries (as
# ldd lists them, at the same paths) and the test.
R=$(mktemp -d)
trap 'rm -rf "$R"' EXIT
root=$R/root
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,modules,lane/bin,lane/Boards/panels,etc}
cp /bin/busybox "$root/bin/busybox"
cp "$C"/modules/*.ko "$root/modules/"
cat > "$root/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin:/sbin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
insmod /modules/configfs.ko && mount -t configfs configfs /sys/kernel/config
insmod /modules/irq_sim.ko
insmod /modules/gpio-sim.ko
ip link set lo up
/lane/vm-test.sh > /dev/ttyS1 2>&1
sync
poweroff -f
INIT
chmod +x "$root/init"
echo "root:x:0:0:root:/:/bin/sh" > "$root/etc/passwd"
for b in lane-agent lane-sim; do strip --strip-debug -o "$root/lane/bin/$b" "$BIN/$b"; done
gcc -O2 -static -Wall -o "$root/lane/bin/vmtool" Tests/KernelGPIO/vmtool.c
cp Tests/KernelGPIO/vm-test.sh Tests/KernelGPIO/quiet.yaml "$root/lane/"
cp Tests/KernelGPIO/board.yaml "$root/lane/Boards/kernel-gpio.yaml"
cp Boards/panels/*.yaml "$root/lane/Boards/panels/"
for lib in $(ldd "$BIN/lane-agent" "$BIN/lane-sim" | awk '/=>/ { print $3 } /ld-linux/ { print $1 }' | sort -u); do
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
done
(cd "$root" && find . | cpio -o -H newc --quiet) > "$R/initrd"

out=${GPIO_VM_OUT:-$ROOT/.build/gpio-vm}
mkdir -p "$out"
rm -f "$out/results.txt" "$out/console.txt"
say "booting kernel $abi with gpio-sim under qemu (TCG), the agent inside; results in $out"
start=$(date +%s)
set +e
timeout 600 qemu-system-x86_64 -accel tcg,thread=multi -machine q35 -cpu max -smp 2 -m 1536 \
    -no-user-config -nodefaults -display none -monitor none -no-reboot \
    -kernel "$C/vmlinuz" -initrd "$R/initrd" \
    -append "console=ttyS0 panic=-1 quiet rdinit=/init" \
    -serial "file:$out/console.txt" -serial "file:$out/results.txt" </dev/null
qrc=$?
set -e
say "the VM ran $(( $(date +%s) - start )) s (qemu status $qrc)"
grep -E '^(PASS|FAIL|MEASURE)' "$out/results.txt" || true
if grep -q '^FAIL' "$out/results.txt" || ! grep -q '^DONE fails=0' "$out/results.txt"; then
    echo "gpio-vm: FAILED; the VM's results ($out/results.txt) end with:" >&2
    tail -n 40 "$out/results.txt" >&2
    echo "gpio-vm: the kernel's console ($out/console.txt) ends with:" >&2
    tail -n 20 "$out/console.txt" >&2
    exit 1
fi
say "all kernel GPIO checks passed"
