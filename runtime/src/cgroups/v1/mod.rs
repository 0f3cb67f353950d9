//! cgroup v1 (and the v1 side of hybrid hosts): one hierarchy per controller.
