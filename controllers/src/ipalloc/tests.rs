//! Tests of the ClusterIP and NodePort allocators.

use super::*;

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

#[test]
fn cluster_ip_allocator_should_reject_bad_cidrs() {
    for bad in [
        "",
        "10.96.0.0",
        "10.96.0.0/",
        "10.96.0.0/x",
        "10.96.0.0/33",
        "10.0.0.0/8",
        "10.0.0.0/31",
        "fd00::/112",
        "10.96.0/12",
    ] {
        let err = ClusterIpAllocator::new(bad).unwrap_err();
        assert!(
            matches!(err, AllocError::InvalidCidr { .. }),
            "{bad}: {err}"
        );
    }
    assert_eq!(
        ClusterIpAllocator::new("10.96.0.5/12").unwrap().to_string(),
        "10.96.0.0/12"
    );
}

#[test]
fn cluster_ip_allocator_should_hand_out_lowest_free_skipping_reserved() {
    let mut a = ClusterIpAllocator::new(DEFAULT_SERVICE_CIDR).unwrap();
    assert_eq!(a.kubernetes_service_ip(), ip("10.96.0.1"));
    // 10.96.0.0 is the network address, 10.96.0.1 the kubernetes Service's.
    assert_eq!(a.allocate().unwrap(), ip("10.96.0.2"));
    assert_eq!(a.allocate().unwrap(), ip("10.96.0.3"));
    a.allocate_specific(ip("10.96.0.1")).unwrap();
    a.allocate_specific(ip("10.96.0.4")).unwrap();
    assert_eq!(a.allocate().unwrap(), ip("10.96.0.5"));
    assert!(a.release(ip("10.96.0.3")));
    assert!(!a.release(ip("10.96.0.3")));
    assert_eq!(a.allocate().unwrap(), ip("10.96.0.3"));
    // Crossing a 64-bit word: offsets 6..=70 taken, next is offset 71 = 10.96.0.71.
    for _ in 6..=70 {
        a.allocate().unwrap();
    }
    assert_eq!(a.allocate().unwrap(), ip("10.96.0.71"));
    assert!(a.is_allocated(ip("10.96.0.71")));
    // 10.111.255.255 is the last address of 10.96.0.0/12: broadcast, never allocatable.
    assert!(!a.is_allocated(ip("10.111.255.255")));
    assert!(a.allocate_specific(ip("10.111.255.254")).is_ok());
    assert!(a.allocate_specific(ip("10.111.255.255")).is_err());
}

#[test]
fn cluster_ip_allocator_should_refuse_taken_and_out_of_range_ips() {
    let mut a = ClusterIpAllocator::new("10.0.0.0/24").unwrap();
    a.allocate_specific(ip("10.0.0.10")).unwrap();
    let err = a.allocate_specific(ip("10.0.0.10")).unwrap_err();
    assert_eq!(err, AllocError::IpAllocated(ip("10.0.0.10")));
    assert!(err.is_conflict());
    assert_eq!(err.to_string(), "provided IP is already allocated");
    for out in ["10.0.1.1", "9.255.255.255", "10.0.0.0", "10.0.0.255"] {
        let err = a.allocate_specific(ip(out)).unwrap_err();
        assert!(!err.is_conflict());
        assert_eq!(
            err.to_string(),
            "provided IP is not in the valid range. The range of valid IPs is 10.0.0.0/24"
        );
    }
}

#[test]
fn cluster_ip_allocator_should_report_exhaustion() {
    // /29: 8 addresses − network − broadcast − kubernetes = 5 allocatable (.2 ..= .6).
    let mut a = ClusterIpAllocator::new("192.168.0.0/29").unwrap();
    let got: Vec<Ipv4Addr> = (0..5).map(|_| a.allocate().unwrap()).collect();
    assert_eq!(got.first(), Some(&ip("192.168.0.2")));
    assert_eq!(got.last(), Some(&ip("192.168.0.6")));
    assert_eq!(a.allocate(), Err(AllocError::Full));
    assert_eq!(a.free(), 1); // the kubernetes Service's address
    a.release(ip("192.168.0.4"));
    assert_eq!(a.allocate().unwrap(), ip("192.168.0.4"));
}

#[test]
fn cluster_ip_allocator_should_rebuild_from_stored_services() {
    let mut a = ClusterIpAllocator::new("10.0.0.0/24").unwrap();
    a.allocate().unwrap();
    let rejected = a.rebuild([
        ip("10.0.0.1"),
        ip("10.0.0.2"),
        ip("10.0.0.2"),
        ip("11.0.0.1"),
    ]);
    assert_eq!(rejected, [ip("10.0.0.2"), ip("11.0.0.1")]);
    assert_eq!(a.allocate().unwrap(), ip("10.0.0.3"));
    // 256 − network − broadcast − 3 used = 251.
    assert_eq!(a.free(), 251);
}

#[test]
fn node_port_allocator_should_allocate_without_collisions_until_full() {
    let mut a = NodePortAllocator::default();
    assert_eq!(a.to_string(), DEFAULT_NODE_PORT_RANGE);
    a.allocate_specific(30001).unwrap();
    assert_eq!(a.allocate().unwrap(), 30000);
    assert_eq!(a.allocate().unwrap(), 30002);
    assert_eq!(
        a.allocate_specific(30002),
        Err(AllocError::PortAllocated(30002))
    );
    assert_eq!(
        a.allocate_specific(80).unwrap_err().to_string(),
        "provided port is not in the valid range. The range of valid ports is 30000-32767"
    );
    // 32767 − 30000 + 1 = 2768 ports, 3 used.
    assert_eq!(a.free(), 2765);
    let mut seen: std::collections::BTreeSet<i32> = [30000, 30001, 30002].into();
    while let Ok(p) = a.allocate() {
        assert!(seen.insert(p), "port {p} handed out twice");
    }
    assert_eq!(seen.len(), 2768);
    assert_eq!(a.allocate(), Err(AllocError::Full));
    assert!(a.release(31000));
    assert_eq!(a.allocate().unwrap(), 31000);
}

#[test]
fn node_port_allocator_should_parse_ranges_and_rebuild() {
    assert!(NodePortAllocator::new("30000-32767").is_ok());
    for bad in ["", "a-b", "0-10", "10-5", "1-70000"] {
        assert!(
            matches!(
                NodePortAllocator::new(bad),
                Err(AllocError::InvalidPortRange { .. })
            ),
            "{bad}"
        );
    }
    let mut a = NodePortAllocator::new("30000").unwrap();
    assert_eq!(a.allocate().unwrap(), 30000);
    assert_eq!(a.allocate(), Err(AllocError::Full));
    let mut b = NodePortAllocator::new("100-103").unwrap();
    assert_eq!(b.rebuild([100, 103, 103, 99]), [103, 99]);
    assert!(b.is_allocated(103));
    assert_eq!(b.allocate().unwrap(), 101);
}
