module github.com/dispersy-go/dispersy

go 1.26.0

require (
	github.com/dchest/siphash v1.2.3 // indirect
	golang.org/x/crypto v0.58.0 // indirect
	gonum.org/v1/gonum v0.17.0 // indirect
	gopkg.in/yaml.v3 v3.0.1 // indirect
)
