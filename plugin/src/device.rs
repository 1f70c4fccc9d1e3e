//! The device settings as the engine takes them: the Device, GPU index and Strict device parameters,
//! and `T2V_STRICT_DEVICE`, which turns strict mode on for every render of the process (render farms).

use t2v_engine::{Device, RuntimeOptions};

use crate::settings::Settings;

/// The runtime options for `settings`, strict when the parameter or `env_strict` (what
/// `T2V_STRICT_DEVICE` says, or why it is unreadable) asks.
pub fn options(
    settings: &Settings,
    env_strict: Result<bool, String>,
) -> Result<RuntimeOptions, String> {
    Ok(RuntimeOptions {
        device: if settings.gpu {
            Device::Cuda
        } else {
            Device::Cpu
        },
        gpu_index: settings.gpu_index,
        strict: settings.strict_device || env_strict?,
        ..RuntimeOptions::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::settings;

    #[test]
    fn the_parameter_or_the_environment_makes_it_strict() {
        let mut s = settings();
        s.gpu = true;
        s.gpu_index = 2;
        let o = options(&s, Ok(false)).unwrap();
        assert_eq!((o.device, o.gpu_index, o.strict), (Device::Cuda, 2, false));
        assert!(options(&s, Ok(true)).unwrap().strict);
        s.strict_device = true;
        assert!(options(&s, Ok(false)).unwrap().strict);
        s.gpu = false;
        assert_eq!(options(&s, Ok(false)).unwrap().device, Device::Cpu);
    }

    #[test]
    fn an_unreadable_variable_fails_the_render_with_its_text() {
        let text =
            "T2V_STRICT_DEVICE=\"yes\" is neither 1 (fail when the GPU cannot be used) nor 0";
        assert_eq!(
            options(&settings(), t2v_engine::strict_device_from(Some("yes"))),
            Err(text.to_string())
        );
    }
}
