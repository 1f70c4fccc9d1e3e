//! The device settings as the engine takes them: the Device, GPU Index, GPU Memory Limit and Strict Device
//! parameters, and the environment a render farm or a pipeline TD sets for every render of the process
//! (`T2V_STRICT_DEVICE`, `T2V_GPU_MEMORY_GB`, `T2V_GPU_ARENA`).

use t2v_engine::{Device, GpuArena, RuntimeOptions};

use crate::settings::Settings;

/// What the process's environment says about the device, each read or why it is unreadable.
pub struct DeviceEnv {
    pub strict: Result<bool, String>,
    /// `T2V_GPU_MEMORY_GB` in bytes; 0: unset.
    pub memory_limit: Result<u64, String>,
    pub arena: Result<GpuArena, String>,
}

impl DeviceEnv {
    /// This process's variables.
    pub fn read() -> Self {
        let var = |name| std::env::var(name).ok();
        Self {
            strict: t2v_engine::strict_device(),
            memory_limit: t2v_engine::gpu_memory_from(var(t2v_engine::GPU_MEMORY_ENV).as_deref()),
            arena: t2v_engine::gpu_arena_from(var(t2v_engine::GPU_ARENA_ENV).as_deref()),
        }
    }
}

/// The runtime options for `settings` and `env`: strict when the parameter or the variable asks, the
/// memory limit of the parameter unless it is 0, else the variable's.
pub fn options(settings: &Settings, env: DeviceEnv) -> Result<RuntimeOptions, String> {
    let gpu_memory_limit = if settings.gpu_memory_gb > 0.0 {
        t2v_engine::gpu_memory_limit(settings.gpu_memory_gb)?
    } else {
        env.memory_limit?
    };
    Ok(RuntimeOptions {
        device: if settings.gpu {
            Device::Cuda
        } else {
            Device::Cpu
        },
        gpu_index: settings.gpu_index,
        strict: settings.strict_device || env.strict?,
        gpu_memory_limit,
        gpu_arena: env.arena?,
        ..RuntimeOptions::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::tests::settings;

    fn env() -> DeviceEnv {
        DeviceEnv {
            strict: Ok(false),
            memory_limit: Ok(0),
            arena: Ok(GpuArena::Grow),
        }
    }

    #[test]
    fn the_parameter_or_the_environment_makes_it_strict() {
        let mut s = settings();
        s.gpu = true;
        s.gpu_index = 2;
        let o = options(&s, env()).unwrap();
        assert_eq!((o.device, o.gpu_index, o.strict), (Device::Cuda, 2, false));
        let strict_env = DeviceEnv {
            strict: Ok(true),
            ..env()
        };
        assert!(options(&s, strict_env).unwrap().strict);
        s.strict_device = true;
        assert!(options(&s, env()).unwrap().strict);
        s.gpu = false;
        assert_eq!(options(&s, env()).unwrap().device, Device::Cpu);
    }

    #[test]
    fn the_memory_limit_parameter_wins_over_the_environment_unless_it_is_zero() {
        let mut s = settings();
        let limited_env = || DeviceEnv {
            memory_limit: Ok(8 << 30),
            arena: Ok(GpuArena::Exact),
            ..env()
        };
        let o = options(&s, limited_env()).unwrap();
        assert_eq!(
            (o.gpu_memory_limit, o.gpu_arena),
            (8 << 30, GpuArena::Exact)
        );
        s.gpu_memory_gb = 1.5;
        assert_eq!(
            options(&s, limited_env()).unwrap().gpu_memory_limit,
            3 << 29
        );
        assert_eq!(options(&s, env()).unwrap().gpu_memory_limit, 3 << 29);
        assert_eq!(options(&settings(), env()).unwrap().gpu_memory_limit, 0);
    }

    #[test]
    fn an_unreadable_variable_fails_the_render_with_its_text() {
        let strict = DeviceEnv {
            strict: t2v_engine::strict_device_from(Some("yes")),
            ..env()
        };
        assert_eq!(
            options(&settings(), strict).err().unwrap(),
            "T2V_STRICT_DEVICE=\"yes\" is neither 1 (fail when the GPU cannot be used) nor 0"
        );
        let arena = DeviceEnv {
            arena: t2v_engine::gpu_arena_from(Some("small")),
            ..env()
        };
        assert_eq!(
            options(&settings(), arena).err().unwrap(),
            "T2V_GPU_ARENA=\"small\" is neither grow (doubling, ONNX Runtime's default) nor exact"
        );
        let memory = DeviceEnv {
            memory_limit: t2v_engine::gpu_memory_from(Some("lots")),
            ..env()
        };
        assert_eq!(
            options(&settings(), memory).err().unwrap(),
            "T2V_GPU_MEMORY_GB=\"lots\" is not a number of GB"
        );
    }
}
