//! the component graph, planning and diffing
