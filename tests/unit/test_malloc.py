"""The allocator setting that keeps the daemon's RSS flat."""

from __future__ import annotations


def test_the_malloc_threshold_is_fixed_on_glibc() -> None:
    import platform

    from driftd.malloc import fix_mmap_threshold

    took = fix_mmap_threshold()
    if platform.libc_ver()[0] == "glibc":
        assert took
