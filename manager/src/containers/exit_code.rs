//! The exit code a container gets when its process could not be started, Docker's way:
//! 127 when the program does not exist, 126 when it cannot be executed, 125 for any other
//! failure of the runtime.

/// The program was not found.
pub const NOT_FOUND: i32 = 127;
/// The program exists but could not be executed.
pub const NOT_EXECUTABLE: i32 = 126;
/// The runtime failed for another reason.
pub const RUNTIME_FAILED: i32 = 125;

/// The exit code recorded for a create/start that failed with the runtime's `message`.
pub fn start_failure_code(message: &str) -> i32 {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_runtime_message() {
        assert_eq!(
            start_failure_code("exec: \"nope\": executable file not found in $PATH"),
            127
        );
        assert_eq!(
            start_failure_code("exec /bin/x: no such file or directory"),
            127
        );
        assert_eq!(
            start_failure_code("exec /etc/passwd: permission denied"),
            126
        );
        assert_eq!(start_failure_code("cgroup: device busy"), 125);
    }
}
