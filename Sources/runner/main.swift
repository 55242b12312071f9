import ConvCore
import Foundation
let layers: [any LayerConfiguration] = [
    Conv2DConfiguration(filters: 6, kernel: (5, 5), padding: .explicit(height: 2, width: 2)), ActivationConfiguration(.relu),
    Pool2DConfiguration(mode: .max, size: (2, 2)),
    Conv2DConfiguration(filters: 16, kernel: (5, 5)), ActivationConfiguration(.relu), Pool2DConfiguration(mode: .max, size: (2, 2)),
    FlattenConfiguration(), DenseConfiguration(units: 120), ActivationConfiguration(.relu),
    DenseConfiguration(units: 84), ActivationConfiguration(.relu), DenseConfiguration(units: 10),
]
for threads in [true, false] {
let net = try Network<Float>(input: Shape(channels: 1, height: 28, width: 28), layers: layers, seed: 1)
let trainer = Trainer(network: net, loss: SoftmaxCrossEntropy(), optimizer: OptimizerConfiguration.sgd().make(Float.self), replicas: 2, usesThreads: threads)
var rng = Xoshiro256(seed: 1)
let x = (0..<(64*784)).map { _ in Float(rng.nextUnit()) }
let y = (0..<64).map { _ in Int32(rng.nextInt(below: 10)) }
let steps = 300
x.withUnsafeBufferPointer { x in y.withUnsafeBufferPointer { y in
  for _ in 0..<20 { trainer.step(images: x, labels: y, batch: 64, learningRate: 0.01) }
  let t0 = Date()
  for _ in 0..<steps { trainer.step(images: x, labels: y, batch: 64, learningRate: 0.01) }
  let dt = Date().timeIntervalSince(t0)
  print(threads ? "2 threads" : "1 thread", Double(steps*64)/dt, "img/s")
}}
}
