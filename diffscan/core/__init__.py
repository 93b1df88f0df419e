"""The shared core every layer stands on: text and words, attributes, lexical vectors, similarity, ANN."""
