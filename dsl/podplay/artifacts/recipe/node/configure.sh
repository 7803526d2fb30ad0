#!/bin/sh
# Runs inside the freshly bootstrapped root (chroot) once, at image build time.
# Turns a Debian minbase tree into a node: systemd as PID 1 in a container, sshd, dockerd.
set -eu

# Services that make no sense inside a container, or that roles enable only when needed.
systemctl mask getty@tty1.service console-getty.service serial-getty@.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-modules-load.service sys-kernel-config.mount sys-kernel-debug.mount \
  sys-kernel-tracing.mount systemd-remount-fs.service systemd-firstboot.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount >/dev/null 2>&1
systemctl disable dnsmasq.service keepalived.service etcd.service >/dev/null 2>&1 || true
systemctl enable ssh.service docker.service containerd.service podplay-ssh-keygen.service \
  podplay-proc-sys-rw.service \
  >/dev/null 2>&1
systemctl set-default multi-user.target >/dev/null 2>&1

# No shared identity: host keys are generated at first boot, machine-id by systemd.
rm -f /etc/ssh/ssh_host_*
: > /etc/machine-id
rm -f /var/lib/dbus/machine-id

install -d -m 0700 /root/.ssh
echo node > /etc/hostname

# Smaller image: no package lists, caches, docs or man pages.
apt-get clean
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/debconf/*-old \
  /usr/share/doc/* /usr/share/man/* /usr/share/info/* /var/log/*.log
find /usr/share/locale -mindepth 1 -maxdepth 1 ! -name 'locale.alias' -exec rm -rf {} +
