//! Link layer: frames, byte-stream framing and the ARQ state machine (being written).
