#![no_main]

libfuzzer_sys::fuzz_target!(init: t2v_fuzz::report_only_uncaught_panics(), |data: &[u8]| {
    t2v_fuzz::latents_file::check(data)
});
