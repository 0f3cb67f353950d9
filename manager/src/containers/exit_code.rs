//! The exit code a container gets when its process could not be started, Docker's way:
//! 127 when the program does not exist, 126 when it cannot be executed, 125 for any other
//! failure of the runtime. Decided here, once, and sent to clients in the failed call's
//! `berth-start-failure-bin` trailer (`pb::StartFailure`), so no client reads it from the text.

use berth_proto::v1 as pb;
use prost::Message;
use tonic::metadata::MetadataValue;

/// The program was not found.
pub const NOT_FOUND: i32 = 127;
/// The program exists but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The runtime failed for another reason (also what a client uses when a call carries no code).
pub const RUNTIME_FAILED: i32 = 125;

/// The binary trailer that carries a [`pb::StartFailure`].
pub const TRAILER: &str = "berth-start-failure-bin";

/// The exit code recorded for a create/start that failed with the runtime's `message`.
pub fn start_failure_code(message: &str) -> i32 {
    // Runtimes differ in case ("No such file or directory (os error 2)" from Rust's io errors).
    let message = message.to_lowercase();
    if message.contains("executable file not found")
        || message.contains("no such file or directory")
    {
        NOT_FOUND
    } else if message.contains("permission denied") {
        NOT_EXECUTABLE
    } else {
        RUNTIME_FAILED
    }
}

/// The status of a failed create/start: FAILED_PRECONDITION with `message` and `code` in the
/// trailer.
pub fn start_failure_status(code: i32, message: String) -> tonic::Status {
    let mut status = tonic::Status::failed_precondition(message);
    let body = pb::StartFailure { exit_code: code }.encode_to_vec();
    status
        .metadata_mut()
        .insert_bin(TRAILER, MetadataValue::from_bytes(&body));
    status
}

/// The exit code a failed call carries, if it is a start failure.
pub fn code_of(status: &tonic::Status) -> Option<i32> {
    let value = status.metadata().get_bin(TRAILER)?;
    let body = value.to_bytes().ok()?;
    pb::StartFailure::decode(body.as_ref())
        .ok()
        .map(|f| f.exit_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The assertions of the client's former copy of the rule (cli/run.rs).
    #[test]
    fn start_failure_codes() {
        assert_eq!(
            start_failure_code("exec: \"foo\": executable file not found in $PATH"),
            127
        );
        assert_eq!(start_failure_code("exec: \"/etc\": permission denied"), 126);
        assert_eq!(start_failure_code("cgroup failed"), 125);
        assert_eq!(
            start_failure_code("exec /bin/x: no such file or directory"),
            127
        );
        assert_eq!(
            start_failure_code("exec: \"/x\": No such file or directory (os error 2)"),
            127
        );
    }

    #[test]
    fn the_code_travels_in_the_status() {
        let s = start_failure_status(127, "exec: \"x\": executable file not found".into());
        assert_eq!(s.code(), tonic::Code::FailedPrecondition);
        assert_eq!(code_of(&s), Some(127));
        assert_eq!(code_of(&tonic::Status::failed_precondition("other")), None);
    }
}
