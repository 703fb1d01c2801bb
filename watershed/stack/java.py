"""Find a Java runtime and check its version (Kafka and Spark need Java 17 or newer)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from watershed.errors import StackError

MIN_JAVA = 17


def java_executable() -> str:
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin" / "java").exists():
        return str(Path(home) / "bin" / "java")
    found = shutil.which("java")
    if not found:
        raise StackError(
            f"Java {MIN_JAVA}+ is required (Kafka and Spark run on the JVM) but no `java` was found: "
            "install OpenJDK 17 (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) or set JAVA_HOME"
        )
    return found


def parse_major(version_output: str) -> int:
    """The major version from `java -version` output ('1.8.0_392' -> 8, '17.0.15' -> 17)."""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', version_output)
    if not match:
        raise StackError(f"cannot read the Java version from: {version_output.strip()[:120]!r}")
    major = int(match.group(1))
    return int(match.group(2) or 0) if major == 1 else major


def require_java(minimum: int = MIN_JAVA) -> str:
    """Return the java executable, or raise StackError saying what to install."""
    java = java_executable()
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False)
    major = parse_major(out.stderr + out.stdout)
    if major < minimum:
        raise StackError(
            f"Java {minimum}+ is required but {java} is Java {major}: "
            "install OpenJDK 17 or point JAVA_HOME at a newer JDK"
        )
    return java
