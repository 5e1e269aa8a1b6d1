//! What opening a task cost (`Task::open_stats`).

/// Figures about loading a task.
#[derive(Debug, Clone, Copy)]
pub struct OpenStats {
    /// Wall time of `Task::load` (model load, index build, prefix cache), or of the
    /// first load when the task was already open in this process.
    pub open_ms: f64,
    pub model_load_ms: f64,
    pub index_build_ms: f64,
    pub index_bytes: usize,
    pub prefix_tokens: usize,
    pub prefix_ms: f64,
}
