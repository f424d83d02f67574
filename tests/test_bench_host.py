"""The benchmarks record what their host can do, read from /proc/cpuinfo."""

import importlib.util
from pathlib import Path

BENCH_HOST = Path(__file__).resolve().parent.parent / "bench" / "host.py"


def _host_module():
    spec = importlib.util.spec_from_file_location("bench_host", BENCH_HOST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_reads_the_cpu_model_and_only_the_flags_that_change_the_figures(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(
        "processor\t: 0\nmodel name\t: Example CPU 9000\nflags\t\t: fpu sse2 avx2 amx_bf16 vmx\n\n"
        "processor\t: 1\nmodel name\t: Example CPU 9000\nflags\t\t: fpu sse2 avx2 amx_bf16 vmx\n"
    )
    model, flags = _host_module()._cpu(cpuinfo)
    assert model == "Example CPU 9000"
    assert flags == ["avx2", "amx_bf16"]


def test_an_unreadable_cpuinfo_still_names_the_machine(tmp_path):
    model, flags = _host_module()._cpu(tmp_path / "missing")
    assert model and flags == []


def test_the_host_line_says_what_was_measured():
    host = {"cpu": "Example CPU", "flags": [], "python_loop_mops": 14.1}
    line = _host_module().host_line(host)
    assert line == "host: Example CPU; flags none; python loop 14.1 M/s"
    both = host | {"matmul_gflops_fp32": 150.0, "matmul_gflops_bf16": 300.0}
    assert "matmul fp32 150.0 / bf16 300.0 GFLOP/s" in _host_module().host_line(both)
