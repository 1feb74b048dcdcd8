//! The SQL effects executor for PostgreSQL (work in progress).
