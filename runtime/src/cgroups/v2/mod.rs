//! cgroup v2: the unified hierarchy.
