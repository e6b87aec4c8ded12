//! The conformance suite on the memory backend.

cadre_bus::conformance_tests!(memory, cadre_bus::conformance::MemoryBackend);
