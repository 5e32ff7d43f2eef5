//! Engine errors → napi errors, in one place: bad input (an option, a glob, a path) is
//! `InvalidArg`; anything that went wrong while doing what was asked is `GenericFailure`.

use napi::{Error, Status};

/// The caller passed something the engine refuses; `message` says what and why.
pub fn invalid_arg(message: impl std::fmt::Display) -> Error {
    Error::new(Status::InvalidArg, message.to_string())
}

/// The engine could not do what was asked (bind, open the cache, render).
pub fn failure(message: impl std::fmt::Display) -> Error {
    Error::new(Status::GenericFailure, message.to_string())
}
