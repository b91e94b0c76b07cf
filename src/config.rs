//! Configuration and the data directory.
//! OWNER: helper cli.
