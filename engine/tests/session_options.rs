//! Every session the engine creates runs without pre-packing and without a CPU arena (engine/src/
//! session_memory.rs says why): ONNX Runtime's own description of each session's options, which it logs
//! when it creates the session, says so. Its own test binary: the logger is the process's.

mod common;

use std::sync::Mutex;

use t2v_engine::{Model, RuntimeOptions};

/// ONNX Runtime's "Session Options { … }" lines.
static OPTIONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.target() == "onnxruntime"
    }

    fn log(&self, record: &log::Record) {
        let text = record.args().to_string();
        if self.enabled(record.metadata()) && text.contains("Session Options {") {
            OPTIONS.lock().unwrap().push(text);
        }
    }

    fn flush(&self) {}
}

#[test]
fn every_session_is_created_without_prepacking_or_a_cpu_arena() {
    log::set_logger(&Capture).unwrap();
    // ONNX Runtime logs a session's options at its Info level, which it produces when `log` wants Debug.
    log::set_max_level(log::LevelFilter::Debug);
    common::init_runtime();
    Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let lines = OPTIONS.lock().unwrap();
    assert_eq!(
        lines.len(),
        3,
        "text encoder, UNet, VAE decoder: {lines:#?}"
    );
    for line in lines.iter() {
        assert!(line.contains(" enable_cpu_mem_arena:0 "), "{line}");
        assert!(line.contains("session.disable_prepacking: 1"), "{line}");
    }
}
