//! Wires the store and the API together and runs them until shutdown.
//! OWNER: helper api.
