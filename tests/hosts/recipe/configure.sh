#!/bin/sh
# Runs inside the freshly bootstrapped root (chroot) once, at image build time: a Debian
# host whose operator logs in as `admin` (passwordless sudo) with a key installed later.
set -eu

# Services that make no sense inside a container.
systemctl mask getty@tty1.service console-getty.service serial-getty@.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount systemd-remount-fs.service systemd-firstboot.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount >/dev/null 2>&1
systemctl enable ssh.service host-ssh-keygen.service >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1

# Every host its own identity: host keys at first boot, machine-id by systemd.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

# The operator: a normal user with passwordless sudo; no password login at all.
useradd --create-home --shell /bin/bash admin
install -d -m 0700 -o admin -g admin /home/admin/.ssh
chmod 0440 /etc/sudoers.d/admin
echo host > /etc/hostname

apt-get clean
rm -rf /var/lib/apt/lists/* /usr/share/doc/* /usr/share/man/* /var/log/*.log
