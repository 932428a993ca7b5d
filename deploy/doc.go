// Package deploy holds no code, only the tests that prove Parley's deployment
// files: the Kubernetes manifests in k8s/ and k8s-hostnetwork/ (strictly
// decoded and checked, then applied to a real kube-apiserver), the
// Dockerfiles and scripts, and docker-compose.yml run end to end. The
// offline base images that end-to-end run starts from are made by package
// standin, which users run through scripts/offline-images.sh.
package deploy
