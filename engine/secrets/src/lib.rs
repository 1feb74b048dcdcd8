//! age-encrypted secret files and external secret sources
