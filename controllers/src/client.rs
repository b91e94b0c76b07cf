//! OWNER: helper (in progress).
