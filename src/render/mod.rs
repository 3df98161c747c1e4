//! Renderers: text, JSON and hex views. They consume findings; none computes them.
