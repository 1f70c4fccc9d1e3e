//! `generate_with_stats` on the fixture package: the ONNX part is a real, positive share of a total that the
//! caller's own stopwatch bounds, and the frames are the ones `generate` returns.

mod common;

use std::time::Instant;

use t2v_engine::{Flow, Model, Request, RuntimeOptions};

#[test]
fn onnx_time_is_a_consistent_share_of_the_generation() {
    common::init_runtime();
    let model = Model::load(&common::package(), &RuntimeOptions::default()).unwrap();
    let mut request = Request::with_defaults(model.defaults(), "a red ball");
    request.seed = 3;
    let started = Instant::now();
    let (video, stats) = model
        .generate_with_stats(&request, &mut |_| Flow::Continue)
        .unwrap();
    let outside_call = started.elapsed();

    assert!(!stats.onnx.is_zero(), "{stats:?}");
    assert!(stats.total <= outside_call, "{stats:?} vs {outside_call:?}");
    assert_eq!(stats.onnx + stats.outside(), stats.total);
    let share = stats.onnx_share();
    assert!(share > 0.0 && share <= 1.0, "share {share}");
    assert_eq!(
        video,
        model.generate(&request, &mut |_| Flow::Continue).unwrap()
    );
}
