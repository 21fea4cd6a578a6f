final class InputCampaign {
    let options: CampaignOptions
    init(options: CampaignOptions) { self.options = options }
    func run() async throws -> CampaignResult { CampaignResult(name: "input") }
}
