//! UTC wall-clock time (identity file comments): shared with the AWS
//! signing code, which owns it (capstan-http).

pub(crate) use capstan_http::clock::UtcTime;
