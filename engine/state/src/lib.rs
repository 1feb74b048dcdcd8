//! recorded state: local file and PostgreSQL backends
