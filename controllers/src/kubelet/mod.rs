//! Pure pod-lifecycle logic.
