"""Audio formats, WAV headers and conversion to the PCM that speech engines take."""
