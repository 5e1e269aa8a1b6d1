//! Nearest-label classification over example embeddings: the examples are embedded once
//! when the task opens; a row gets the label whose examples its vector is closest to.

use std::collections::HashMap;

/// How a row's nearest label is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nearest {
    /// Cosine to each label's centroid (the normalised mean of its examples); the score
    /// is that cosine.
    Centroid,
    /// The `k` most similar examples vote, each with its cosine; the score is the
    /// winner's share of the votes.
    Knn(usize),
}

impl Nearest {
    pub fn parse(method: &str, k: Option<usize>) -> Result<Nearest, String> {
        match (method, k) {
            ("centroid", None) => Ok(Nearest::Centroid),
            ("centroid", Some(_)) => Err("k applies to classifier \"knn\" only".into()),
            ("knn", k) if k != Some(0) => Ok(Nearest::Knn(k.unwrap_or(5))),
            ("knn", _) => Err("k must be at least 1".into()),
            (other, _) => Err(format!("classifier {other:?}: use \"centroid\" or \"knn\"")),
        }
    }
}

pub struct Classifier {
    labels: Vec<String>,
    nearest: Nearest,
    /// Per label, the normalised mean of its examples' vectors.
    centroids: Vec<Vec<f32>>,
    /// Every example's vector with its label's index.
    examples: Vec<(usize, Vec<f32>)>,
}

fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn normalised(v: Vec<f32>) -> Vec<f32> {
    let norm = dot(&v, &v).sqrt().max(1e-12);
    v.into_iter().map(|x| x / norm).collect()
}

impl Classifier {
    /// `examples`: (label index, normalised vector); every label needs at least one.
    pub fn new(labels: Vec<String>, examples: Vec<(usize, Vec<f32>)>, nearest: Nearest) -> Classifier {
        let dim = examples.first().map_or(0, |(_, v)| v.len());
        let centroids = (0..labels.len())
            .map(|label| {
                let mut sum = vec![0f32; dim];
                for (_, v) in examples.iter().filter(|(l, _)| *l == label) {
                    sum.iter_mut().zip(v).for_each(|(s, x)| *s += x);
                }
                normalised(sum)
            })
            .collect();
        Classifier { labels, nearest, centroids, examples }
    }

    /// Bytes of the vectors it keeps.
    pub fn bytes(&self) -> usize {
        let floats: usize = self.centroids.iter().chain(self.examples.iter().map(|(_, v)| v)).map(Vec::len).sum();
        floats * std::mem::size_of::<f32>()
    }

    /// The nearest label of a normalised vector, and its score. Ties go to the label
    /// listed first, so the answer never depends on anything but the vector.
    pub fn classify(&self, v: &[f32]) -> (&str, f64) {
        let (best, score) = match self.nearest {
            Nearest::Centroid => self
                .centroids
                .iter()
                .enumerate()
                .map(|(i, c)| (i, dot(v, c) as f64))
                .fold((0, f64::NEG_INFINITY), |best, x| if x.1 > best.1 { x } else { best }),
            Nearest::Knn(k) => {
                let mut scored: Vec<(usize, f32)> = self.examples.iter().map(|(l, e)| (*l, dot(v, e))).collect();
                scored.sort_by(|a, b| b.1.total_cmp(&a.1));
                let mut votes: HashMap<usize, f64> = HashMap::new();
                for (label, sim) in scored.iter().take(k) {
                    *votes.entry(*label).or_default() += (*sim as f64).max(0.0);
                }
                let total: f64 = votes.values().sum();
                let (best, weight) = (0..self.labels.len())
                    .map(|l| (l, votes.get(&l).copied().unwrap_or(0.0)))
                    .fold((0, f64::NEG_INFINITY), |best, x| if x.1 > best.1 { x } else { best });
                (best, if total > 0.0 { weight / total } else { 0.0 })
            }
        };
        (&self.labels[best], score)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier(nearest: Nearest) -> Classifier {
        let labels = vec!["a".to_string(), "b".to_string()];
        let examples = vec![
            (0, normalised(vec![1.0, 0.1])),
            (0, normalised(vec![1.0, -0.1])),
            (1, normalised(vec![0.0, 1.0])),
        ];
        Classifier::new(labels, examples, nearest)
    }

    #[test]
    fn the_nearest_centroid_wins_with_its_cosine() {
        let c = classifier(Nearest::Centroid);
        let (label, score) = c.classify(&normalised(vec![0.9, 0.2]));
        assert_eq!(label, "a");
        assert!(score > 0.9 && score <= 1.0, "{score}");
        assert_eq!(c.classify(&normalised(vec![0.1, 1.0])).0, "b");
    }

    #[test]
    fn knn_votes_with_similarity() {
        let c = classifier(Nearest::Knn(3));
        let (label, share) = c.classify(&normalised(vec![0.2, 1.0]));
        assert_eq!(label, "b");
        assert!(share > 0.0 && share < 1.0, "{share}");
        let one = classifier(Nearest::Knn(1));
        assert_eq!(one.classify(&normalised(vec![1.0, 0.0])), ("a", 1.0));
    }

    #[test]
    fn methods_parse_with_their_errors() {
        assert_eq!(Nearest::parse("knn", None), Ok(Nearest::Knn(5)));
        assert!(Nearest::parse("knn", Some(0)).is_err());
        assert!(Nearest::parse("centroid", Some(3)).is_err());
        assert!(Nearest::parse("svm", None).is_err());
    }
}
