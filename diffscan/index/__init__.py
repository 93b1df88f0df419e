"""The on-disk index: its format and loading (`store`), the chunk-by-chunk `writer`, `update` (re-use of
unchanged rows) and the `build` pipeline that feeds them."""
