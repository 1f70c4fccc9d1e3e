//! Text-to-video engine.
