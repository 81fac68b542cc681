"""Every pin installs from wheels for the Space's Python on Linux x86_64 (the Space), macOS arm64 and Windows x86_64.

Asks PyPI's simple index (PEP 691 JSON) which files each pinned release has and matches their tags as pip does,
with each requirement's environment markers evaluated for the target platform. Not `pip install --dry-run
--platform ...`: with this machine's pip 23.2 and index it fetched every whole wheel (350 MB for tensorflow-cpu on
Windows alone), evaluated markers for this machine instead of the target, and read this machine's pip config.
"""

import functools
import json
import urllib.error
import urllib.request

import pytest
from packaging import tags
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name, parse_wheel_filename

from conftest import REPO, front_matter

INDEX = "https://pypi.org/simple"
# glibc 2.28 or newer (Debian 10, Ubuntu 20.04 and later; the Space's image is newer still).
MANYLINUX = [f"manylinux_2_{minor}_x86_64" for minor in range(28, 4, -1)]
PLATFORMS = {
    "linux-x86_64": (
        {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
        [*MANYLINUX, "manylinux2014_x86_64", "manylinux2010_x86_64", "manylinux1_x86_64"],
    ),
    # macOS 12 or newer on Apple Silicon.
    "macos-arm64": (
        {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
        list(tags.mac_platforms((12, 0), "arm64")),
    ),
    "windows-x86_64": (
        {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
        ["win_amd64"],
    ),
}


def space_python() -> tuple[int, int]:
    """The Python the Space builds with: python_version in README.md's front matter."""
    major, minor = front_matter((REPO / "README.md").read_text())["python_version"].split(".")[:2]
    return int(major), int(minor)


def pins(path) -> list[Requirement]:
    """The requirements in a requirements file, following `-r` includes."""
    requirements = []
    for line in path.read_text().splitlines():
        line = line.split("#")[0].strip()
        if line.startswith("-r "):
            requirements += pins(path.parent / line[3:].strip())
        elif line:
            requirements.append(Requirement(line))
    return requirements


@functools.cache
def index_files(name: str) -> tuple[dict, ...]:
    request = urllib.request.Request(
        f"{INDEX}/{canonicalize_name(name)}/", headers={"Accept": "application/vnd.pypi.simple.v1+json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return tuple(json.load(response)["files"])
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return ()
        raise
    except urllib.error.URLError as error:
        pytest.skip(f"cannot reach {INDEX}: {error.reason}")


def applying(requirements: list[Requirement], platform: str, python: tuple[int, int]) -> list[Requirement]:
    """The requirements whose environment markers hold on platform with python."""
    version = f"{python[0]}.{python[1]}"
    environment = {**PLATFORMS[platform][0], "python_version": version, "python_full_version": f"{version}.0"}
    return [r for r in requirements if r.marker is None or r.marker.evaluate(environment)]


def without_wheel(requirements: list[Requirement], platform: str, python: tuple[int, int]) -> list[str]:
    """The pins that apply on platform and have no wheel there for python; each must pin one exact version."""
    platforms = PLATFORMS[platform][1]
    interpreter = f"cp{python[0]}{python[1]}"
    supported = {
        *tags.cpython_tags(python, platforms=platforms),
        *tags.compatible_tags(python, interpreter, platforms=platforms),
    }
    missing = []
    for requirement in applying(requirements, platform, python):
        (specifier,) = requirement.specifier
        assert specifier.operator == "==", f"{requirement} is not pinned to one version"
        wheels = [
            file
            for file in index_files(requirement.name)
            if file["filename"].endswith(".whl")
            and not file.get("yanked")
            and str(parse_wheel_filename(file["filename"])[1]) == specifier.version
            and parse_wheel_filename(file["filename"])[3] & supported
            and SpecifierSet(file.get("requires-python") or "").contains(f"{python[0]}.{python[1]}.0")
        ]
        if not wheels:
            missing.append(f"{requirement.name}=={specifier.version}")
    return missing


@pytest.mark.parametrize("platform", PLATFORMS)
def test_every_pin_has_a_wheel(platform):
    requirements = pins(REPO / "requirements-dev.txt")
    missing = without_wheel(requirements, platform, space_python())
    assert missing == [], f"no wheel for Python {'.'.join(map(str, space_python()))} on {platform}: {missing}"
    backends = [r.name for r in applying(requirements, platform, space_python()) if r.name.startswith("tensorflow")]
    assert len(backends) == 1, f"{platform} installs {backends}: exactly one TensorFlow build is wanted"


def test_the_check_finds_a_missing_wheel():
    """The check fails where a user's install would: a release too new for the Python, a build without a Mac wheel."""
    numpy, tensorflow_cpu = Requirement("numpy==2.4.6"), Requirement("tensorflow-cpu==2.21.0")
    assert without_wheel([numpy, tensorflow_cpu], "linux-x86_64", (3, 10)) == ["numpy==2.4.6"]
    assert without_wheel([numpy, tensorflow_cpu], "macos-arm64", (3, 11)) == ["tensorflow-cpu==2.21.0"]
    assert without_wheel([Requirement("numpy==0.0.1")], "windows-x86_64", (3, 11)) == ["numpy==0.0.1"]
