//! Router-level tests against a real store (see the submodules).
