//! Every scheduler against diffusers: timestep/sigma tables and whole trajectories recorded by
//! models/fixtures/make_fixtures.py (`schedulers.json`) and, for the flow-matching schedulers as Wan runs them,
//! models/fixtures/make_flow_schedulers.py (`flow_schedulers.json`); fake denoiser
//! out[i] = 0.9·x[i] + 0.2·sin(i + t/100), noise from our stream.

use std::collections::HashSet;

use serde_json::Value;
use t2v_engine::{NoiseStream, SchedulerConfig, SchedulerKind};

fn fixtures(name: &str) -> Value {
    let path = format!("{}/../models/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect(name)).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= 1e-5 * w.abs().max(1.0),
            "{what}[{i}]: got {g}, diffusers {w}\n got {got:?}\nwant {want:?}"
        );
    }
}

fn fake_model(x: &[f32], t: f64) -> Vec<f32> {
    x.iter()
        .enumerate()
        .map(|(i, &v)| (0.9 * v as f64 + 0.2 * (i as f64 + t / 100.0).sin()) as f32)
        .collect()
}

/// Replays every case of a fixture file; returns the kinds it covers. Cases without `initial` hold tables only.
fn check_cases(file: &str) -> HashSet<SchedulerKind> {
    let all = fixtures(file);
    let len = all["trajectory_len"].as_u64().unwrap() as usize;
    let seed = all["trajectory_seed"].as_u64().unwrap();
    let cases = all["cases"].as_array().unwrap();
    let mut kinds_seen = HashSet::new();
    for case in cases {
        let kind = SchedulerKind::from_name(case["kind"].as_str().unwrap()).unwrap();
        kinds_seen.insert(kind);
        let steps = case["steps"].as_u64().unwrap() as usize;
        let label = format!(
            "{} / {} / {steps} steps",
            kind.name(),
            case["config_name"].as_str().unwrap()
        );
        let config = SchedulerConfig::from_json(&case["config"]).unwrap();
        let mut s = kind
            .build(&config, steps)
            .unwrap_or_else(|e| panic!("{label}: {e}"));
        assert_close(
            &format!("{label}: timesteps"),
            s.timesteps(),
            &floats(&case["timesteps"]),
        );
        if let Some(sigmas) = case.get("sigmas") {
            assert_close(&format!("{label}: sigmas"), s.sigmas(), &floats(sigmas));
        }
        assert_close(
            &format!("{label}: init_noise_sigma"),
            &[s.init_noise_sigma()],
            &[case["init_noise_sigma"].as_f64().unwrap()],
        );
        if case.get("initial").is_none() {
            continue;
        }

        let mut noise = NoiseStream::new(seed);
        let init = s.init_noise_sigma() as f32;
        let mut x: Vec<f32> = noise.take(len).into_iter().map(|v| v * init).collect();
        let as_f64 = |v: &[f32]| v.iter().map(|&x| x as f64).collect::<Vec<_>>();
        assert_close(
            &format!("{label}: initial"),
            &as_f64(&x),
            &floats(&case["initial"]),
        );
        let timesteps = s.timesteps().to_vec();
        for (i, &t) in timesteps.iter().enumerate() {
            let input = s.scale_model_input(i, &x);
            assert_close(
                &format!("{label}: model input {i}"),
                &as_f64(&input),
                &floats(&case["model_inputs"][i]),
            );
            s.step(i, &fake_model(&input, t), &mut x, &mut noise);
            assert_close(
                &format!("{label}: sample after step {i}"),
                &as_f64(&x),
                &floats(&case["samples"][i]),
            );
        }
    }
    kinds_seen
}

#[test]
fn schedulers_match_diffusers() {
    check_cases("schedulers.json");
}

#[test]
fn flow_schedulers_match_diffusers_as_wan_runs_them() {
    let kinds = check_cases("flow_schedulers.json");
    assert_eq!(
        kinds,
        HashSet::from([SchedulerKind::UniPc, SchedulerKind::FlowEuler])
    );
}

#[test]
fn every_kind_has_fixtures() {
    let kinds: HashSet<String> = ["schedulers.json", "flow_schedulers.json"]
        .into_iter()
        .flat_map(|file| fixtures(file)["cases"].as_array().unwrap().clone())
        .map(|case| case["kind"].as_str().unwrap().to_string())
        .collect();
    for kind in SchedulerKind::ALL {
        assert!(kinds.contains(kind.name()), "{kind} has no fixtures");
    }
}
