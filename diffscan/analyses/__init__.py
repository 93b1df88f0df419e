"""Plain functions over an index that return plain data: competitors, USPs and differentiation, clusters,
the landscape and its projection, niches, and comparisons of snapshots. They print nothing and draw nothing."""
