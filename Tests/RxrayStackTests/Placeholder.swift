import XCTest

final class RxrayStackTestsPlaceholder: XCTestCase {}
