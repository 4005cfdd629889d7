"""The sub-commands of `tflite-edge`: one module each, found by tflite_edge.cli."""
