//! The pod's status as the kubelet reports it.
