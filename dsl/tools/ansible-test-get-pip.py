"""Stand-in for ansible-test's pip bootstrap script, for machines that only reach the package index.

ansible-test creates each sanity test's virtual environment without pip, then runs
`python get-pip.py [pip options] pip==<version> --no-setuptools --no-wheel` with a script
it downloads from ci-files.testing.ansible.com, a host these machines cannot reach (ansible
issue 77304: "manually download it and save it to ~/.ansible/test/cache/get_pip_<v>.py").
`make sanity` puts this file there instead when that cache entry is missing. It does what
get-pip does with what is on the machine: pip from the interpreter's own `ensurepip`, then
the requested pip version installed from the package index.
"""

import subprocess
import sys

GET_PIP_ONLY = ("--no-setuptools", "--no-wheel", "--no-pip")


def main() -> None:
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    subprocess.check_call(
        [sys.executable, "-m", "ensurepip", "--default-pip"], stdout=subprocess.DEVNULL
    )
    subprocess.check_call([sys.executable, "-m", "pip", "install", "-q", *args])


if __name__ == "__main__":
    main()
