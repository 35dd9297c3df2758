// The Account 360 sections mounted under the account's profile: hierarchy, buying centre,
// competitors, plans, interactions, complaints, tier and the Pareto view. Each section loads its
// own data from account-svc, says while it is loading, and shows its own problem in words.
import "./account360.css";

import { BuyingCentreSection } from "./BuyingCentre";
import { CompetitorsSection } from "./Competitors";
import { HierarchySection } from "./Hierarchy";
import { ComplaintsSection, InteractionsSection } from "./Interactions";
import { ParetoSection } from "./Pareto";
import { PlansSection } from "./Plans";
import { TierSection } from "./Tier";

export function Account360Sections({ accountId }: { accountId: string }) {
  return (
    <div className="a360" data-testid="account-360">
      <HierarchySection accountId={accountId} />
      <BuyingCentreSection accountId={accountId} />
      <TierSection accountId={accountId} />
      <CompetitorsSection accountId={accountId} />
      <PlansSection accountId={accountId} />
      <InteractionsSection accountId={accountId} />
      <ComplaintsSection accountId={accountId} />
      <ParetoSection accountId={accountId} />
    </div>
  );
}

export default Account360Sections;
